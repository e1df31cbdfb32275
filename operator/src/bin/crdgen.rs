//! Prints the IngestionPipeline CRD as YAML (`make crds` writes it to crds/).

fn main() -> anyhow::Result<()> {
    print!("{}", spate_operator::crd::crd_yaml()?);
    Ok(())
}
