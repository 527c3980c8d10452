"""netclear.engine"""
