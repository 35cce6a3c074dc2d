"""Neural amp models (.nam LSTM/WaveNet, GuitarML json) and their kernels."""
