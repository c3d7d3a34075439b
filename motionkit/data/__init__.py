"""Motion datasets: the HumanML3D folder layout (read and write), readers, statistics."""
