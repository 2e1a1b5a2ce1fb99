# bash completion for pasidctl(8): commands, their options, VM names (asked from the daemon
# the command line names, or the default one) and method names for `call` (from rpc.discover).
# shellcheck shell=bash

# The --socket of the command line being completed, for the questions to the daemon.
_pasidctl_socket() {
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s | --socket) printf '%s' "${COMP_WORDS[i + 1]}" && return ;;
		--socket=*) printf '%s' "${COMP_WORDS[i]#--socket=}" && return ;;
		esac
	done
}

# Runs pasidctl against that socket, quietly; nothing when the daemon does not answer.
_pasidctl_ask() {
	local sock
	sock=$(_pasidctl_socket)
	if [[ -n $sock ]]; then
		"${COMP_WORDS[0]}" --socket "$sock" --json "$@" 2>/dev/null
	else
		"${COMP_WORDS[0]}" --json "$@" 2>/dev/null
	fi
}

_pasidctl_vms() {
	_pasidctl_ask vm list | sed -n 's/^ *"vm": *"\([^"]*\)".*/\1/p'
}

_pasidctl_methods() {
	_pasidctl_ask call rpc.discover | sed -n 's/^ *"name": *"\([a-z]*\.[a-z.]*\)".*/\1/p' | sort -u
}

_pasidctl_wqs() {
	_pasidctl_ask wq list | sed -n 's/^ *"wq": *"\([^"]*\)".*/\1/p'
}

_pasidctl_reservations() {
	_pasidctl_ask range list | sed -n 's/^ *"name": *"\([^"]*\)".*/\1/p'
}

_pasidctl() {
	local cur prev words=() i cmd="" sub="" nargs=0
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	# The command and subcommand so far, skipping the global options.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s | --socket) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${COMP_WORDS[i]}
			elif [[ -z $sub && $cmd != status && $cmd != call ]]; then
				sub=${COMP_WORDS[i]}
			else
				((nargs++))
			fi
			;;
		esac
	done
	case $prev in
	-s | --socket)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	--textfile)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return
		;;
	--vm)
		mapfile -t COMPREPLY < <(compgen -W "$(_pasidctl_vms)" -- "$cur")
		return
		;;
	--wq)
		mapfile -t COMPREPLY < <(compgen -W "$(_pasidctl_wqs)" -- "$cur")
		return
		;;
	--reservation)
		mapfile -t COMPREPLY < <(compgen -W "$(_pasidctl_reservations)" -- "$cur")
		return
		;;
	--type)
		if [[ $cmd == wq ]]; then
			words=(user kernel none)
		else
			words=(shared local)
		fi
		mapfile -t COMPREPLY < <(compgen -W "${words[*]}" -- "$cur")
		return
		;;
	--mode)
		if [[ $cmd == wq ]]; then
			words=(shared dedicated)
		else
			words=(translated identity)
		fi
		mapfile -t COMPREPLY < <(compgen -W "${words[*]}" -- "$cur")
		return
		;;
	--block-on-fault)
		mapfile -t COMPREPLY < <(compgen -W "yes no" -- "$cur")
		return
		;;
	--kinds)
		# A comma-separated list: the kind after the last comma is completed.
		local last=${cur##*,}
		mapfile -t COMPREPLY < <(compgen -P "${cur%"$last"}" -W "vm.register vm.owner \
			vm.unregister vm.reclaim device.assign device.release pasid.alloc pasid.free \
			pasid.attach pasid.detach quota.set config.reload daemon.start wq.configure \
			device.attach device.detach vm.import range.reserve range.unreserve" \
			-- "$last")
		return
		;;
	--device | --gpasid | --count | --pid | --uuid | --as | --pt-id | --dev-id | --iommufd | \
		--device-fd | --fd | --size | --priority | --group | --threshold | --name | --why | \
		--expires)
		return
		;;
	esac
	if [[ -z $cmd ]]; then
		words=(status vm device pasid quota wq range metrics watch call --socket --json --version
			--help)
		mapfile -t COMPREPLY < <(compgen -W "${words[*]}" -- "$cur")
		return
	fi
	case $cmd in
	vm) words=(list show register unregister export import) ;;
	device) words=(assign release detach) ;;
	pasid) words=(alloc free lookup list attach detach) ;;
	quota) words=(get set) ;;
	wq) words=(list configure) ;;
	range) words=(reserve unreserve list) ;;
	call)
		if ((nargs == 0)) && [[ $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_pasidctl_methods)" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "--fd --json --help" -- "$cur")
		fi
		return
		;;
	metrics) words=(--textfile --json --help) ;;
	watch)
		mapfile -t COMPREPLY < <(compgen -W "--vm --kinds --json --help" -- "$cur")
		return
		;;
	*) words=(--json --help) ;;
	esac
	if [[ -z $sub && $cmd != status ]]; then
		mapfile -t COMPREPLY < <(compgen -W "${words[*]}" -- "$cur")
		return
	fi
	# Options of each subcommand; VM names where a VM is the first argument.
	case "$cmd $sub" in
	"vm show" | "vm unregister" | "vm export" | "device assign" | "device release" | \
		"device detach" | \
		"pasid attach" | "pasid detach")
		if ((nargs == 0)) && [[ $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_pasidctl_vms)" -- "$cur")
			return
		fi
		;;
	esac
	case "$cmd $sub" in
	"vm register") words=(--pid --uuid --mode) ;;
	"vm import")
		if ((nargs == 0)) && [[ $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return
		fi
		words=(--dry-run --as --device --wq --pid --reservation)
		;;
	"device assign") words=(--shared) ;;
	"pasid alloc") words=(--vm --type --device --wq --gpasid --count --reservation) ;;
	"range reserve") words=(--why --expires --name) ;;
	"pasid free") words=(--vm --gpasid) ;;
	"pasid lookup") words=(--vm --gpasid --device) ;;
	"pasid list") words=(--vm --type --wq) ;;
	"pasid attach") words=(--pt-id --dev-id --iommufd --device-fd) ;;
	"wq configure") words=(--mode --type --size --priority --group --threshold --name
		--block-on-fault) ;;
	*) words=() ;;
	esac
	if [[ "$cmd $sub" == "range unreserve" ]] && ((nargs == 0)) && [[ $cur != -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_pasidctl_reservations)" -- "$cur")
		return
	fi
	if [[ "$cmd $sub" == "wq configure" ]] && ((nargs == 0)) && [[ $cur != -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_pasidctl_wqs)" -- "$cur")
		return
	fi
	mapfile -t COMPREPLY < <(compgen -W "${words[*]} --json --help" -- "$cur")
}
complete -F _pasidctl pasidctl
