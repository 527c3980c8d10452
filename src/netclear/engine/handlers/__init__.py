"""Action handlers, one module per family; each mutates state only through its Ctx."""
