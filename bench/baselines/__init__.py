"""What Parley is measured against: the floor of its stack and what a Python team would pick instead."""
