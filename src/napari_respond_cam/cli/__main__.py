"""``python -m napari_respond_cam.cli``, for environments without the script on the PATH."""

from .app import main

raise SystemExit(main())
