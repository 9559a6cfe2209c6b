"""Tests of verimath.models: real llama.cpp, real HTTP servers on 127.0.0.1, recorded data."""
