"""netclear.ledger"""
