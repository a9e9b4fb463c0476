"""The studio's pages (flow editor, runs, models): each composes components into a layout and
registers the page's own callbacks."""
