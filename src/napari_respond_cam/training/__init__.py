"""Training the demo models: the paper's classifiers (:mod:`.classifier`, ``respond-cam
train``) and the segmentation U-Net (:mod:`.segmentation`), on simulated tomograms, with
the CPU kernels pinned so that a run reproduces the shipped weights
(:mod:`.reproducible_kernels`). Nothing here is imported by the explaining side."""
