"""Pure values and rules: citizen ID, masking, insurance kinds. No I/O."""
