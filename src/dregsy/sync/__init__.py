"""Running tasks: expand mappings into images, skip the unchanged, copy the rest."""
