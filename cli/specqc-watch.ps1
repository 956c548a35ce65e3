# specqc watch-folder service on a Windows instrument PC.
#
#   powershell -ExecutionPolicy Bypass -File specqc-watch.ps1 -Install   # register a scheduled task
#   powershell -ExecutionPolicy Bypass -File specqc-watch.ps1 -Stop        # stop it cleanly
#   powershell -ExecutionPolicy Bypass -File specqc-watch.ps1 -Uninstall
#   powershell -ExecutionPolicy Bypass -File specqc-watch.ps1            # run in this window
#
# The task starts at boot under the account given, restarts on failure, and runs
# `specqc watch` continuously. Network shares (mapped drives or UNC paths): set
# poll = true in the [watch] section of the config, since file events do not
# cross SMB reliably. A kill or reboot loses nothing: the ledger re-runs any
# analysis that had started.
#
# Windows sends a scheduled task no signal before ending it, so -Stop first
# asks the service to stop through its stop file (OUT\specqc-watch.stop): it
# lets running analyses finish (30 s), marks the rest interrupted and logs
# "service-stop". Only if it is still running after that is the task ended.
# Exit status 2 (for instance another service already watching the inbox with
# this store) is a configuration problem: see the log or run it in a window.
# The site key signing the store's audit chain: set SPECQC_STORE_KEY_FILE for
# the account, or key_file in the [store] section of the config.
param(
    [switch]$Install,
    [switch]$Stop,
    [switch]$Uninstall,
    [string]$Specqc = "C:\specqc\.venv\Scripts\specqc.exe",
    [string]$Inbox = "D:\Data\Inbox",
    [string]$Out = "D:\Data\Reports",
    [string]$Config = "C:\specqc\watch.toml",
    [string]$Store = "C:\ProgramData\specqc\records.sqlite",
    [string]$TaskName = "specqc-watch",
    [string]$Account = "NT AUTHORITY\SYSTEM"
)

$arguments = "watch `"$Inbox`" --out `"$Out`" --config `"$Config`" --store `"$Store`""

if ($Stop) {
    New-Item -ItemType File -Force -Path (Join-Path $Out "specqc-watch.stop") | Out-Null
    $deadline = (Get-Date).AddSeconds(90)
    while ((Get-ScheduledTask -TaskName $TaskName).State -eq "Running" -and (Get-Date) -lt $deadline) {
        Start-Sleep -Seconds 1
    }
    if ((Get-ScheduledTask -TaskName $TaskName).State -eq "Running") {
        Stop-ScheduledTask -TaskName $TaskName
    }
    exit 0
}
if ($Uninstall) {
    Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false
    exit 0
}
if ($Install) {
    $action = New-ScheduledTaskAction -Execute $Specqc -Argument $arguments
    $trigger = New-ScheduledTaskTrigger -AtStartup
    $settings = New-ScheduledTaskSettingsSet -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
        -ExecutionTimeLimit ([TimeSpan]::Zero) -StartWhenAvailable
    Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings `
        -User $Account -RunLevel Limited -Description "specqc: analyse finished LC-MS/NMR acquisitions"
    Start-ScheduledTask -TaskName $TaskName
    exit 0
}
& $Specqc watch $Inbox --out $Out --config $Config --store $Store
exit $LASTEXITCODE
