"""Result records under results/: written by the run side, read by the explain side; sealed."""
