"""Domain values and rules with no I/O: records (``models``), masking, phone numbers."""
