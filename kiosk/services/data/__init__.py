"""Data files the services read at run time, shipped as package data (each file says where its
data comes from and under which licence)."""
