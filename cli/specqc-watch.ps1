# specqc watch-folder service on a Windows instrument PC.
#
#   powershell -ExecutionPolicy Bypass -File specqc-watch.ps1 -Install   # register a scheduled task
#   powershell -ExecutionPolicy Bypass -File specqc-watch.ps1 -Uninstall
#   powershell -ExecutionPolicy Bypass -File specqc-watch.ps1            # run in this window
#
# The task starts at boot under the account given, restarts on failure, and runs
# `specqc watch` continuously. Network shares (mapped drives or UNC paths): set
# poll = true in the [watch] section of the config, since file events do not
# cross SMB reliably. A kill or reboot loses nothing: the ledger re-runs any
# analysis that had started.
param(
    [switch]$Install,
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
