"""
The administration pages: users, groups, support staff, download.
"""
