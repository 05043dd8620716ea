import sys

from keras_gradstab.cli import main

sys.exit(main())
