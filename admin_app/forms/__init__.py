"""Flask-WTF forms, one module per area. Forms check shape; services decide."""
