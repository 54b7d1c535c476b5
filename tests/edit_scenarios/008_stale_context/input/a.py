import os
import sys
import json

VALUE = 1
OTHER = 2
