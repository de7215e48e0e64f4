"""SFT, preference-pair building, DPO, generation and feedback pairs (TRL + PEFT)."""
