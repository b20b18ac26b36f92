import CHDF5

/// The libhdf5 this process runs with, for `petal doctor` and bug reports.
public enum HDF5Library {
    /// "major.minor.release" as the loaded library reports it (H5get_libversion).
    public static var version: String {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        let status = HDF5File.locked { H5get_libversion(&major, &minor, &release) }
        return status < 0 ? "unknown" : "\(major).\(minor).\(release)"
    }
}
