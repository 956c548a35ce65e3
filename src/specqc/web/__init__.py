"""The QC dashboard (`specqc serve`): pages, JSON API and signed reviews over a results store."""
