/// Petal's own version, printed by `petal --version`, written into model files and reports.
public enum PetalVersion {
    public static let string = "0.6.0"
}
