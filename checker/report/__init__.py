"""The design-review report: HTML and Markdown pages and their SVG pictures."""
