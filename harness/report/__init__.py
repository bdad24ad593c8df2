"""Reports: the self-contained HTML file, the terminal summary, and inline SVG plots."""
