"""netclear.risk"""
