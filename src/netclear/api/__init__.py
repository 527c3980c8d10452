"""netclear.api"""
