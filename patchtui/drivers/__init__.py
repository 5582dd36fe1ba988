"""Package-manager drivers: one module per family behind one interface."""
