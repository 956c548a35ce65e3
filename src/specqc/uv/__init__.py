"""UV/DAD and other optical-detector analysis: traces, integration, UV-to-MS offset, peak purity."""
