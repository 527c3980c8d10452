"""netclear.liquidation"""
