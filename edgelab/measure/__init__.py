"""What was observed on this machine: latency statistics, peak memory, accuracy and agreement."""
from .accuracy import accuracy, agreement
from .latency import latency_stats, ratio_stats

__all__ = ["accuracy", "agreement", "latency_stats", "ratio_stats"]
