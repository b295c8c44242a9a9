"""Target hardware profiles: the curated catalog, user profiles and the detected host."""
from .host import fingerprint as host_fingerprint
from .host import label as host_label

__all__ = ["host_fingerprint", "host_label"]
