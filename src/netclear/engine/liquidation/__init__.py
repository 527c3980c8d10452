"""netclear.engine.liquidation"""
