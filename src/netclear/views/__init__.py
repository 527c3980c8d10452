"""netclear.views"""
