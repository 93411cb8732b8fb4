"""The benchmark: dregsy against skopeo sync and an ideal copy, side by side."""
