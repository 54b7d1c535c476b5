import os
import sys
import json

VALUE = 3
OTHER = 2
