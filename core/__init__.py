"""What knows no app: helpers every floor may import (the ground floor)."""
