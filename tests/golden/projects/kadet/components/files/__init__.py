from kapitan.inputs import kadet


def main():
    inv = kadet.inventory()
    return {
        "README.md": f"# {inv.parameters.target_name}\n\n{inv.parameters.banner}",
        "scripts/run.sh": "#!/bin/sh\necho password is ?{base64:targets/web/pw}\n",
    }
