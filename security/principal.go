package security

import "slices"

// AccountType classifies a user. Only [AccountStaff] may use the staff-only
// endpoints.
type AccountType string

// Account types known to propsec. Hosts may use others; they are treated as
// non-staff.
const (
	AccountStaff    AccountType = "staff"
	AccountCustomer AccountType = "customer"
)

// Permission names one capability a staff user may hold. The names are the
// ones of the documented API.
type Permission string

// The permissions of the documented API.
const (
	// PermSessionsList allows listing every user's sessions.
	PermSessionsList Permission = "api.security.sessions.list"
	// PermSessionsTerminate allows terminating other users' sessions.
	PermSessionsTerminate Permission = "api.security.sessions.terminate"
	// PermSessionsManage allows adding, removing and listing blacklisted users.
	PermSessionsManage Permission = "api.security.sessions.manage"
	// PermFileIntegrityAlertsManage allows every file-integrity operation.
	PermFileIntegrityAlertsManage Permission = "api.security.file_integrity_alerts.manage"
	// PermSecurityReportManage allows generating the security report.
	PermSecurityReportManage Permission = "api.admin.security_report.manage"
)

// AllPermissions lists every permission of the documented API.
var AllPermissions = []Permission{
	PermSessionsList,
	PermSessionsTerminate,
	PermSessionsManage,
	PermFileIntegrityAlertsManage,
	PermSecurityReportManage,
}

// ValidPermission reports whether p is one of [AllPermissions].
func ValidPermission(p Permission) bool { return slices.Contains(AllPermissions, p) }

// Principal is an authenticated user as the rest of propsec sees them.
type Principal struct {
	UserID      int64
	Name        string
	Email       string
	AccountType AccountType
	Permissions []Permission
}

// IsStaff reports whether the principal's account type is staff.
func (p Principal) IsStaff() bool { return p.AccountType == AccountStaff }

// Can reports whether the principal is staff and holds perm. A permission
// held by a non-staff account grants nothing.
func (p Principal) Can(perm Permission) bool {
	return p.IsStaff() && slices.Contains(p.Permissions, perm)
}
