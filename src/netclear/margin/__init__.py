"""netclear.margin"""
