"""Tomogram files as jobs: read, explain through the run layer, write; here or on Dask."""
