"""The REST resource routes, one module per resource; the edge answers most reads before."""
