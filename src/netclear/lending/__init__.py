"""netclear.lending"""
