"""Walk-in complaints: branch staff file what a customer says at the counter."""
