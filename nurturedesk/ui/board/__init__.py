"""The kanban board: a column model per stage, a card delegate, and the view around them."""
