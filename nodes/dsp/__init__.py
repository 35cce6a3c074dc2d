"""Signal-processing kernels shared by several node families (no nodes here)."""
