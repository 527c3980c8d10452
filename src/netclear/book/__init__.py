"""netclear.book"""
