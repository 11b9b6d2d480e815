"""Array-likes that record how they are read, to prove a volume is never loaded whole."""


class SlicedOnly:
    """An array that can only be sliced (like zarr), recording its reads and the largest."""

    def __init__(self, data):
        self.data, self.shape, self.dtype = data, data.shape, data.dtype
        self.largest = 0
        self.reads = 0

    def __getitem__(self, key):
        block = self.data[key]
        self.largest = max(self.largest, block.size)
        self.reads += 1
        return block
