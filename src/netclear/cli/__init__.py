"""netclear.cli"""
