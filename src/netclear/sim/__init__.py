"""netclear.sim"""
